"""Settings, folders and logging set-up."""
