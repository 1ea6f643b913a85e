"""The regulator's and bureau's console: server-rendered pages and the year-end report."""
