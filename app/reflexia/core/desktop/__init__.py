"""The desktop session: starting at login, the launch command."""
