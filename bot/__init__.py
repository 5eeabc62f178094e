"""Bot Mutasi & Kinerja ASN: assembly, domain services and pure rules.

Importing this package must stay cheap and free of Telegram: `storage/` uses the
pure rules in `bot.rules` and the translation helpers in `bot.i18n`.
"""
