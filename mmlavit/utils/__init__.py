"""The bottom layer: process-wide environment set-up and the distributed start (no models, no tools)."""
from .dist import init_cpu_dist_if_needed, shutdown_dist
from .setup_env import setup_mmlavit_env

__all__ = ['init_cpu_dist_if_needed', 'setup_mmlavit_env', 'shutdown_dist']
