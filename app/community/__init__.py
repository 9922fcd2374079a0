"""Community: threaded conversation, follows, notifications and live updates."""
