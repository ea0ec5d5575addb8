/// `torch.linspace(start, end, count)` as PyTorch computes it on the CPU, in the precision `F`.
///
/// PyTorch rounds `start` and `end` to the dtype, takes `step = (end - start) / (count - 1)` in
/// that dtype, counts the first half up from `start` and the second half down from `end`, and
/// the compiler fuses each multiply-add. This form reproduces every `betas_at` entry and, through
/// the cumulative product, every `alphas_cumprod_at` entry of `scheduler_vectors.json` bit for bit
/// in Float32; an unfused or vectorised variant is off by one ulp at t = 500.
func torchLinspace<F: BinaryFloatingPoint>(from start: Double, to end: Double, count: Int) -> [F] {
    precondition(count >= 1, "linspace needs at least one point, got \(count)")
    let first = F(start), last = F(end)
    if count == 1 { return [first] }
    let step = (last - first) / F(count - 1)
    let halfway = count / 2
    return (0..<count).map { i in
        i < halfway
            ? first.addingProduct(step, F(i))
            : last.addingProduct(-step, F(count - 1 - i))
    }
}
