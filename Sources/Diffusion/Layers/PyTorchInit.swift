/// Default PyTorch initialisation of Conv2d/Linear (kaiming_uniform with a = sqrt(5)):
/// weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func initUniform(_ p: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, rng: inout RandomStream) {
    let bound = 1 / Double(fanIn).squareRoot()
    for i in 0..<count { p[i] = Float((rng.uniform() * 2 - 1) * bound) }
}
