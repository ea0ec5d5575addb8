// The hot loops live in their own target, built without runtime checks (Package.swift);
// everything that uses Diffusion sees them as part of it.
@_exported import Kernels
