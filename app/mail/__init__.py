"""Outgoing mail: every message is written to the outbox table, then delivered after commit.

With no ``MAIL_SERVER`` configured, messages stay in the outbox (status ``pending``) and are written
to the log, so a developer can follow a password-reset link from the console.
"""
