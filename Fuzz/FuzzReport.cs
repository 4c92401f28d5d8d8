using System.Collections.Generic;
using System.Text;

namespace Fuzz;

/// <summary>What one fuzzing run did and found.</summary>
internal sealed class FuzzReport
{
    /// <summary>The seed of the run.</summary>
    public required int Seed { get; init; }

    /// <summary>Calls compared with the kernel, or checked for invariants in an engine-only run.</summary>
    public long Calls { get; set; }

    /// <summary>Cases run (each a fresh address space and, against the kernel, a fresh child).</summary>
    public long Cases { get; set; }

    /// <summary>Cases whose kernel child died, with the signal and the calls (nothing compared for them).</summary>
    public List<string> LostCases { get; } = [];

    /// <summary>Each difference or broken invariant, with the case's calls up to it.</summary>
    public List<string> Findings { get; } = [];

    /// <summary>A summary line, then every finding and lost case.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append($"seed {Seed}: {Calls} calls in {Cases} cases, {Findings.Count} findings, {LostCases.Count} lost cases\n");
        foreach (string finding in Findings)
        {
            text.Append(finding).Append('\n');
        }

        foreach (string lost in LostCases)
        {
            text.Append(lost).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The calls of a case up to and including <paramref name="last"/>, one a line, for a finding.</summary>
    public static string Describe(IReadOnlyList<FuzzCall> calls, int last)
    {
        var text = new StringBuilder();
        for (int i = 0; i <= last && i < calls.Count; i++)
        {
            text.Append($"  [{i}] {calls[i]}\n");
        }

        return text.ToString();
    }
}
