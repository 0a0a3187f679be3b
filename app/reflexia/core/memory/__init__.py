"""Memory: estimates, the budget, the monitor and the governor policy."""
