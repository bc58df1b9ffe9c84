"""Sports: live and upcoming games of the configured teams from ESPN's public scoreboard, their scores
as a time series, game events on `sports.events`, and the read endpoints HA automations use."""
