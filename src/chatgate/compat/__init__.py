"""Compatibility dialects: vendors' documented APIs served verbatim on Chatgate's core.

A client written for one of those products moves to Chatgate by changing its base URL and
key and nothing else. Each dialect is a package here, mounted under ``/compat/<dialect>/``
as an application of its own (:mod:`chatgate.compat.dialect_app`): its own OpenAPI document,
its own error body and statuses, its own kind of key. A dialect only *translates*: it parses
the vendor's request into the commands the native API builds, calls the same services, and
renders the vendor's answers, errors and webhooks. Messages sent through a dialect are
ordinary messages: listed at ``/v1/messages``, billed, retried, paced, fallen back and
webhooked like any other.
"""
