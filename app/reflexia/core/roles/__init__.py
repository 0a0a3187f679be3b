"""Expert roles: who the assistant is, how it samples, which rung it needs, and the user's own roles."""
