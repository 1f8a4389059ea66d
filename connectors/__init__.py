"""Connectors to the outside world (tax providers, payment gateways, ERPs). Each talks to one service over
its public API and turns that service's errors into :class:`core.errors.UserError` messages a finance user
can act on."""
