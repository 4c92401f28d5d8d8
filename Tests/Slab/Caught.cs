using System;

namespace Tests.Slab;

/// <summary>Runs code whose exception a test inspects afterwards, typically on another thread where an assertion could not report.</summary>
public static class Caught
{
    /// <summary>The exception <paramref name="action"/> threw, or null.</summary>
    public static Exception? From(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
