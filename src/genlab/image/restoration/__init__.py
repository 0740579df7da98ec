"""Image restoration: super-resolution, denoising and inpainting of photos (degradations, patch data,
PSNR/SSIM with the SR conventions, tiled inference, the restoration model base)."""
