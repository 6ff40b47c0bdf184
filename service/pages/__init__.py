"""The patient pages: what a patient reaches through a signed link in a message (a check-in
to answer, their plan in plain words, a one-click opt-out), server-rendered, in English or
Spanish. `routes.patient_pages` is mounted at `/p`."""
