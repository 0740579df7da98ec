"""Modality-free diffusion machinery: noise schedules, the flow path and the samplers.

Modules: ``schedules`` (β schedules, :class:`NoiseSchedule`, :class:`FlowPath`),
``samplers`` (DDPM, DDIM, DPM-Solver++(2M), Euler, Heun and :func:`sample_loop`) and
``multinomial`` (multinomial diffusion of categorical variables, Hoogeboom et al. 2021).
A modality's diffusion models (``genlab.image.diffusion``) build on them.
"""
