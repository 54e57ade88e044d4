"""Staff authentication (signed tokens), roles and scopes, the access log, and rate limits for what anyone may do.

Import from the modules themselves (`dukcapil_shared.auth.roles`, `.tokens`, `.http`, ...): this package's
import loads nothing, so that a domain using roles loads no web framework.
"""
