"""Read models: each node projects the event stream into its own Postgres database."""
