using System;
using System.Diagnostics;

namespace VmaEngine.Slab;

/// <summary>One queued callback: an <see cref="Action"/>, or an <see cref="IRcuCallback"/> with its argument.</summary>
internal readonly struct RcuCallback
{
    /// <summary>An <see cref="Action"/> or an <see cref="IRcuCallback"/>.</summary>
    private readonly object _target;

    /// <summary>The argument for an <see cref="IRcuCallback"/>.</summary>
    private readonly nint _argument;

    /// <summary>Wraps an action.</summary>
    public RcuCallback(Action action) => _target = action;

    /// <summary>Wraps a callback object and its argument.</summary>
    public RcuCallback(IRcuCallback callback, nint argument)
    {
        _target = callback;
        _argument = argument;
    }

    /// <summary>Runs the callback.</summary>
    public void Invoke()
    {
        if (_target is Action action)
        {
            action();
        }
        else
        {
            Debug.Assert(_target is IRcuCallback, "an RCU callback is an Action or an IRcuCallback");
            ((IRcuCallback)_target).Invoke(_argument);
        }
    }
}
