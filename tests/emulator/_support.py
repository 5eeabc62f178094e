"""Constants shared by the emulator tests."""

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_test"
BOT_ID = 123456789
BOT_USERNAME = "bukittinggi_asn_bot"
USER_ID = 1001

# 2x3 PNG: signature + IHDR chunk (the emulator only reads the header).
PNG_2X3 = (
    b"\x89PNG\r\n\x1a\n"
    b"\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03\x08\x02\x00\x00\x00"
    b"\x00\x00\x00\x00" + b"\x00" * 32
)
