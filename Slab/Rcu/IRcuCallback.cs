namespace VmaEngine.Slab;

/// <summary>
/// A callback object for <see cref="Rcu.Call(IRcuCallback, nint)"/>: one object serves many deferred calls, each
/// with its own argument, so that queueing a callback allocates nothing (the kernel's <c>rcu_head</c> plus
/// function pointer, without a closure per call).
/// </summary>
public interface IRcuCallback
{
    /// <summary>Runs after the grace period, on the RCU callback thread.</summary>
    /// <param name="argument">The argument given when the call was queued.</param>
    public void Invoke(nint argument);
}
