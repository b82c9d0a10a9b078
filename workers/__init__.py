"""Celery: the app, its schedule, and thin tasks that call one service each."""
