"""Sign-in transactions, server-side sessions and their lifecycle, over a pluggable store."""
