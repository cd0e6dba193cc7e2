"""Webhooks (I6): institutions receive signed HTTP callbacks for events on their leads."""
