"""The REST API: declarative routes over the services, and the one error mapping."""
