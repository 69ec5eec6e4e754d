"""Operations' counterparts on loopback: an alert receiver, a Pulumi ESC stand-in, git over
HTTP and GitLab's API for the supervisor's pulls and CI verdicts, a repository to adopt,
a live lock holder in another process, process scans, and headless Chromium (`browser`)."""
