"""Learning targets, scoring, reports, exports and reminders."""
