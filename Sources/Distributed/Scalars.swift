internal import CMPI

/// Element types the communicator moves: Float, Double, Int64, UInt8.
public protocol MPIScalar: Numeric, BitwiseCopyable, Sendable {
    static var mpiScalarKind: MPIScalarKind { get }
}

/// Element types that can also be reduced (summed, maxed, mined): Float, Double, Int64.
public protocol MPIReducible: MPIScalar, Comparable {}

public enum MPIScalarKind: Sendable {
    case float, double, int64, uint8

    var datatype: MPI_Datatype {
        switch self {
        case .float: cmpi_float()
        case .double: cmpi_double()
        case .int64: cmpi_int64()
        case .uint8: cmpi_byte()
        }
    }
}

extension Float: MPIReducible { public static var mpiScalarKind: MPIScalarKind { .float } }
extension Double: MPIReducible { public static var mpiScalarKind: MPIScalarKind { .double } }
extension Int64: MPIReducible { public static var mpiScalarKind: MPIScalarKind { .int64 } }
extension UInt8: MPIScalar { public static var mpiScalarKind: MPIScalarKind { .uint8 } }

extension MPIScalar {
    static var datatype: MPI_Datatype { mpiScalarKind.datatype }
}

/// The reduction applied element by element across ranks.
public enum ReduceOp: Sendable {
    case sum, max, min

    var mpiOp: MPI_Op {
        switch self {
        case .sum: cmpi_sum()
        case .max: cmpi_max()
        case .min: cmpi_min()
        }
    }
}
