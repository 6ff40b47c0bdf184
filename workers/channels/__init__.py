"""Channels deliver one claimed message each: they return the provider's id for it, or
raise `domain.message.DeliveryFailed` saying whether trying again could help. They hold
no state about messages; the outbox row is the state."""

from __future__ import annotations

from typing import Protocol

from domain.message import Channel as ChannelName
from domain.message import DeliveryFailed, Message
from service.settings import Settings


class Channel(Protocol):
    async def send(self, message: Message) -> str: ...


def make_channel(name: ChannelName, settings: Settings) -> Channel:
    """The channel for `name`, configured from the settings; a channel we cannot deliver
    through yet is a permanent failure for its messages (requeue them once it exists)."""
    if name is ChannelName.EMAIL:
        from workers.channels.email import EmailChannel

        return EmailChannel(settings)
    if name is ChannelName.SMS:
        from workers.channels.sms import SmsChannel

        return SmsChannel(settings)
    if name is ChannelName.WEBHOOK:
        from workers.channels.webhook import WebhookChannel

        return WebhookChannel(settings)
    raise DeliveryFailed(f"ChannelUnavailable {name.value}", permanent=True)
