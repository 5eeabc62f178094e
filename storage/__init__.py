"""Persistence: SQLAlchemy models, repositories, migrations, importers.

Never imports ``telegram``: handlers call repositories, repositories return data.
"""
