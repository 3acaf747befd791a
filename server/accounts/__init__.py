"""Staff accounts, logins and server-side sessions."""
