"""The routers `fixtures_app.main` includes: `items` (fast), `safe` (the right way),
`outbound` (timeouts on outbound calls) and `hazards` (blocking on purpose)."""
