"""Thin Celery entry points. Each task takes ids, calls one service, and records its outcome.

Task modules are listed in powersync_site/celery.py (``imports``) so workers register them.
"""
