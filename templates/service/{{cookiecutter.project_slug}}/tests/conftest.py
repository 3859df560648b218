"""The fixtures of these tests come from scaffold's pytest plugin (scaffold.runtime.testing).

client, anonymous_client, admin_client, service, scaffold_config, statsd and live_server:
README.md ("Test it") says what each is, and `pytest --fixtures` lists them. Put the
service's own fixtures here.
"""
