"""Pure domain rules: no database, no Telegram, no I/O."""
