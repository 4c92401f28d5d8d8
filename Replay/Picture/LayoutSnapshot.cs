using System.Collections.Generic;
using VmaEngine.Vma;

namespace Replay.Picture;

/// <summary>The layout one <c>maps</c> line of a trace printed: the VMAs in the window, in address order.</summary>
/// <param name="Line">The 1-based trace line of the <c>maps</c>.</param>
/// <param name="Vmas">The VMAs inside the trace window, in address order.</param>
public sealed record LayoutSnapshot(int Line, IReadOnlyList<VmaInfo> Vmas);
