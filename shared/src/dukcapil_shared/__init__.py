"""Wire contracts and messaging plumbing shared by the four Disdukcapil services.

Nothing here knows a business rule of any service: only what travels between them (the versioned events
in their CloudEvents envelope) and how it travels (exchange, outbox relay, inbox, retrying consumer).
"""
