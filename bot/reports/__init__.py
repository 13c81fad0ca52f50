"""What the team runs on: incident timings, stats, the weekly report, postmortem drafts."""
