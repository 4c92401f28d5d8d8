namespace VmaEngine.Native;

/// <summary>The access a range of committed pages allows.</summary>
public enum PageProtection
{
    /// <summary>No access: any load or store faults.</summary>
    None,

    /// <summary>Loads only.</summary>
    Read,

    /// <summary>Loads and stores.</summary>
    ReadWrite,

    /// <summary>Loads and instruction fetches.</summary>
    ReadExecute,

    /// <summary>Loads, stores and instruction fetches.</summary>
    ReadWriteExecute,
}
