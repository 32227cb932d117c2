"""The Reflex side: states and their handlers, the cookie routes, guards, pages and setup."""
