import Testing
@testable import Diffusion

/// Tensor's subscript is the library's checked way in: an index outside the elements stops
/// the program (in release builds too) instead of reading or writing past the allocation.
@Suite struct TensorSubscriptTests {
    @Test func readsAndWritesInsideTheElements() {
        let t = Tensor(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])
        t[5] = 50
        #expect(t[0] == 0 && t[4] == 4 && t[5] == 50)
    }

    @Test func readPastTheEndStops() async {
        await #expect(processExitsWith: .failure) {
            let t = Tensor(shape: [2, 3])
            _ = t[6]
        }
    }

    @Test func negativeWriteStops() async {
        await #expect(processExitsWith: .failure) {
            let t = Tensor(shape: [4])
            t[-1] = 1
        }
    }
}
