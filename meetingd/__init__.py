"""meetingd: the control plane of a video-conference and paperless-meeting server."""

__version__ = "0.1.0"
