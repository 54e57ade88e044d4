"""Telling the citizen: the notices' wording, and sending them by e-mail and SMS."""
