"""Behaviour analysis: sessions, paths, next steps, funnels, retention and recommendations.

The modules sessions, paths, funnels, retention and advice import nothing from Django (they run
and are benchmarked alone); compute, models, api, views and tasks are the portal's side.
"""
