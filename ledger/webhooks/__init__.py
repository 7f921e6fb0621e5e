"""Webhooks: drift alerts delivered where people look (Standard Webhooks, from the outbox)."""
