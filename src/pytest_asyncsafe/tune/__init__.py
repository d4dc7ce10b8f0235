"""`asyncsafe-tune`: how many workers, measured, for the container the app runs in."""
