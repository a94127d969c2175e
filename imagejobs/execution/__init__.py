"""What workers execute: a job's run, Files API uploads, webhook deliveries, the sweeper."""
