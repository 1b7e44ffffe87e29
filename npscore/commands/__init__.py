"""The command layer: what turns the maths below into ``npscore`` commands.

========================  ====================================================================
``config``                what a ``train`` run is: :class:`RunConfig`, :class:`ModelConfig`
``mnist_config``          what an ``mnist`` run is: :class:`MnistConfig` and the presets
``runfolder``             the ``--out`` folder: lock, manifest, publish; nothing else touched
``lowdim_data``           a ``train`` run's data, standardisation and schedule
``lowdim``                ``npscore train``: training, sampling, the run folder
``lowdim_eval``           its samplers and metrics
``demo``                  ``npscore demo``: ``train`` with the notes' settings
``mnist_train``           ``npscore mnist``'s training and checkpoints
``mnist``                 ``npscore mnist`` and ``npscore sample`` end to end
``likelihood_report``     ``npscore likelihood``
``cli_args``, ``cli``     the parser and the commands
========================  ====================================================================

Nothing below (``npscore.nn``, the losses, SDEs, samplers, ``npscore.likelihood``, ...)
imports from here.
"""
