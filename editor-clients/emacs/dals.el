;;; dals.el --- Durable agent tasks from Emacs, through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, convenience, languages

;; This file is not part of GNU Emacs.

;;; Commentary:

;; A thin client for DALS, the Durable Agent Language Server (`dals lsp').
;; The server owns all behaviour.  This file maps it to Emacs idioms:
;;
;; `dals-start-task' and `dals-code-action' start tasks; running tasks
;; show in the mode line (" DALS[2 running]").  The task list, the task
;; buffer and the commands on a task (approve with a diff, reject,
;; cancel, resume) are in dals-tasks.el, and `dals-code-action' in
;; dals-code-actions.el; both load on first use.
;;
;; eglot gives a buffer one server.  So DALS is added at the end of
;; `eglot-server-programs' for `dals-mode-list', where it serves only the
;; modes that have no other server.  Where another server (pylsp,
;; clangd, ...) manages a buffer, the commands start DALS beside it, for
;; the project (`dals-connect').  That connection manages no file
;; buffers.
;;
;; The command ids and the notification method mirror
;; server/dals/lsp/protocol.py.  docs/protocol.md describes the payloads.
;;
;; Tested with Emacs 28.2 and eglot 1.9.  Besides eglot's generic
;; functions, it uses these eglot internals: `eglot--current-project',
;; `eglot--servers-by-project', `eglot--project', `eglot--path-to-uri',
;; `eglot--pos-to-lsp-position', `eglot--uri-to-path' and
;; `eglot--signal-textDocument/didChange'.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'project)
(require 'seq)
(require 'subr-x)

;; The task list, the task buffer and the commands on a task load on
;; first use (dals-tasks.el), as do code actions (dals-code-actions.el).
(dolist (command '(dals-tasks dals-show-task dals-cancel-task dals-resume-task
                   dals-show-pending dals-approve dals-reject))
  (autoload command "dals-tasks" nil t))
(autoload 'dals-code-action "dals-code-actions" nil t)
(dolist (command '(dals-follow-up dals-steer dals-message-task dals-transcript))
  (autoload command "dals-conversation" nil t))
(dolist (command '(dals-undo-task dals-rewind-task dals-fork-task))
  (autoload command "dals-checkpoints" nil t))

(defgroup dals nil
  "Durable agent tasks through the DALS language server."
  :group 'tools
  :prefix "dals-")

(defcustom dals-executable nil
  "The `dals' program.
nil means <project>/.venv/bin/dals when it exists, else \"dals\" on
the variable `exec-path'."
  :type '(choice (const :tag "Project .venv, else PATH" nil) file))

(defcustom dals-model nil
  "Model for new tasks (setting `dals.model').
A pydantic-ai model string such as \"anthropic:claude-sonnet-4-5\", or
\"offline\".  nil leaves it to the server's DALS_MODEL."
  :type '(choice (const :tag "Server default (DALS_MODEL)" nil) string))

(defcustom dals-approval nil
  "Default task mode (setting `dals.approval'): \"auto\" or \"review\".
nil leaves it to the server."
  :type '(choice (const :tag "Server default" nil)
                 (const "auto") (const "review")))

(defcustom dals-commands-allow 'default
  "Command prefixes that run without asking (setting `dals.commands.allow').
The symbol `default' leaves the list to the server."
  :type '(choice (const :tag "Server default" default) (repeat string)))

(defcustom dals-restate-ingress-url nil
  "Ingress URL of an existing Restate (setting `dals.restate.ingressUrl').
nil: the embedded runtime.  Set it together with `dals-restate-admin-url'."
  :type '(choice (const :tag "Embedded runtime" nil) string))

(defcustom dals-restate-admin-url nil
  "Admin URL of an existing Restate (setting `dals.restate.adminUrl')."
  :type '(choice (const :tag "Embedded runtime" nil) string))

(defcustom dals-request-timeout 130
  "Seconds to wait for the answer to a DALS command.
Commands wait for the runtime, which may take a while to start the
first time (the server itself gives up after 120 s)."
  :type 'number)

(defcustom dals-revert-edited-buffers t
  "Non-nil: revert unmodified buffers whose files a task has edited."
  :type 'boolean)

;;;; Connections

(defclass eglot-dals (eglot-lsp-server) ()
  :documentation "A connection to `dals lsp'.")

(cl-defmethod eglot-handle-request
  ((_server eglot-dals) (_method (eql workspace/applyEdit)) &key _label edit)
  "Apply a task's EDIT as eglot does, then send didChange for it at once.
eglot otherwise waits for Emacs to be idle; the task's next edit of the
buffer is checked against the server's copy, which would still be old."
  (prog1 (cl-call-next-method)
    (dolist (change (append (plist-get edit :documentChanges) nil))
      (let* ((uri (plist-get (plist-get change :textDocument) :uri))
             (buffer (and uri (find-buffer-visiting (eglot--uri-to-path uri)))))
        (when buffer
          (with-current-buffer buffer
            (when eglot--managed-mode
              (eglot--signal-textDocument/didChange))))))))

(defun dals--executable ()
  "Return the program to run `dals lsp' for the current buffer's project."
  (or dals-executable
      (let ((venv (expand-file-name ".venv/bin/dals"
                                    (project-root (eglot--current-project)))))
        (and (file-executable-p venv) venv))
      "dals"))

(defun dals--contact (&optional _interactive)
  "The `eglot-server-programs' contact for DALS: (eglot-dals PROGRAM \"lsp\")."
  (list 'eglot-dals (dals--executable) "lsp"))

(defun dals--update-server-programs ()
  "Keep one DALS entry at the end of `eglot-server-programs'."
  (setq eglot-server-programs
        (cl-remove #'dals--contact eglot-server-programs :key #'cdr))
  (when (bound-and-true-p dals-mode-list)
    (setq eglot-server-programs
          (append eglot-server-programs
                  (list (cons dals-mode-list #'dals--contact))))))

(defcustom dals-mode-list '(prog-mode text-mode)
  "Major modes for which \\[eglot] may start DALS.
The entry goes at the end of `eglot-server-programs', so it applies
only to modes that no earlier entry serves.  Other buffers still use
DALS through `dals-connect'."
  :type '(repeat symbol)
  :initialize #'custom-initialize-default
  :set (lambda (symbol value)
         (set-default symbol value)
         (dals--update-server-programs)))

(defun dals--settings ()
  "The `dals' settings section from the options that are set."
  (let ((restate (append (and dals-restate-ingress-url
                              (list :ingressUrl dals-restate-ingress-url))
                         (and dals-restate-admin-url
                              (list :adminUrl dals-restate-admin-url)))))
    (append (and dals-model (list :model dals-model))
            (and dals-approval (list :approval dals-approval))
            (and restate (list :restate restate))
            (unless (eq dals-commands-allow 'default)
              (list :commands (list :allow (vconcat dals-commands-allow)))))))

(defun dals--initialization-options ()
  "Return the initializationOptions for `dals lsp': (:dals SETTINGS)."
  ;; An empty hash table encodes as {}, where nil would give null.
  (list :dals (or (dals--settings) (make-hash-table))))

(cl-defmethod eglot-initialization-options ((_server eglot-dals))
  "Send the `dals' settings section to SERVER at start."
  (dals--initialization-options))

;; `workspace/configuration' for the section "dals" is answered by eglot
;; itself from `eglot-workspace-configuration' (usually directory-local),
;; which thus overrides these options per project.  A project without a
;; :dals section answers null, and the server keeps the values above.

(cl-defmethod eglot-client-capabilities :around ((_server eglot-dals))
  "Ask for work-done progress, which eglot 1.9 does not advertise.
Also say that this client answers `dals/diagnostics' from flymake."
  (let* ((caps (cl-call-next-method))
         (window (copy-sequence (plist-get caps :window))))
    (setq caps (plist-put caps :window (plist-put window :workDoneProgress t)))
    (let ((experimental (plist-get caps :experimental)))  ; eglot 1.9: an empty hash table
      (plist-put caps :experimental
                 (if (and (hash-table-p experimental) (> (hash-table-count experimental) 0))
                     (let ((copy (copy-hash-table experimental)))
                       (puthash "dals" '(:diagnostics t) copy)
                       copy)
                   (plist-put (and (listp experimental) (copy-sequence experimental))
                              :dals '(:diagnostics t)))))))

(cl-defmethod eglot-handle-request
  ((_server eglot-dals) (_method (eql 'dals/diagnostics)) &key uri &allow-other-keys)
  "Answer the agent's `diagnostics' tool with flymake's diagnostics of URI (a
file), or of every buffer when URI is nil."
  (list :items (dals--flymake-items uri)))

(defun dals--flymake-severity (type)
  "The LSP severity (1 error .. 3 information) of the flymake diagnostic TYPE."
  (let ((name (symbol-name type)))
    (cond ((string-match-p "error" name) 1)
          ((string-match-p "warning" name) 2)
          (t 3))))

(defun dals--flymake-to-lsp (diag)
  "The flymake diagnostic DIAG as an LSP Diagnostic plist (current buffer)."
  (list :range (list :start (eglot--pos-to-lsp-position (flymake-diagnostic-beg diag))
                     :end (eglot--pos-to-lsp-position (flymake-diagnostic-end diag)))
        :severity (dals--flymake-severity (flymake-diagnostic-type diag))
        :message (flymake-diagnostic-text diag)
        :source (format "%s" (flymake-diagnostic-backend diag))))

(defun dals--flymake-items (uri)
  "The `dals/diagnostics' items: flymake's diagnostics of the buffer visiting
the file of URI, or of every file buffer that has some when URI is nil."
  (let ((file (and (stringp uri) (eglot--uri-to-path uri)))
        items)
    (dolist (buffer (buffer-list))
      (with-current-buffer buffer
        (when (and buffer-file-name (bound-and-true-p flymake-mode)
                   (or (null file) (file-equal-p buffer-file-name file)))
          (let ((diags (save-restriction
                         (widen)
                         (mapcar #'dals--flymake-to-lsp (flymake-diagnostics)))))
            (when (or file diags)
              (push (list :uri (eglot--path-to-uri buffer-file-name) :diagnostics (vconcat diags))
                    items))))))
    (when (and file (null items))
      (push (list :uri uri :diagnostics []) items))
    (vconcat (nreverse items))))

(cl-defmethod eglot-handle-request
  ((_server eglot-dals) (_method (eql 'window/workDoneProgress/create))
   &key &allow-other-keys)
  "Accept every progress token that a DALS server creates."
  nil)

(defun dals--live-p (server)
  "Non-nil if SERVER is a running DALS connection."
  (and (cl-typep server 'eglot-dals) (jsonrpc-running-p server)))

(defvar-local dals--buffer-server nil
  "The DALS connection behind this tasks, task or approval buffer.")

(defun dals--project-server (project)
  "A running DALS connection for PROJECT, or nil."
  (seq-find #'dals--live-p (gethash project eglot--servers-by-project)))

(defun dals-connect ()
  "Start DALS for the current project, beside any other server.
Return the connection.  It manages no file buffers: eglot keeps the
buffers' own servers."
  (interactive)
  (let ((project (eglot--current-project))
        (contact (dals--contact)))
    (or (dals--project-server project)
        ;; `eglot' shuts down the current buffer's server before it
        ;; connects, so call it from a buffer that has none.
        (with-temp-buffer
          (setq default-directory (project-root project))
          (let ((eglot-sync-connect t))
            (eglot '(dals-tasks-mode) project (car contact) (cdr contact) "dals"))))))

(defun dals--server (&optional this-project)
  "The DALS connection to use from the current buffer; start one if none.
With THIS-PROJECT, only a connection for the buffer's project will do."
  (or (and (dals--live-p dals--buffer-server) dals--buffer-server)
      (let ((server (eglot-current-server)))
        (and (dals--live-p server) server))
      (dals--project-server (eglot--current-project))
      (and (not this-project)
           (cl-loop for servers being the hash-values of eglot--servers-by-project
                    thereis (seq-find #'dals--live-p servers)))
      (dals-connect)))

(defun dals--request (server method params)
  "Send METHOD with PARAMS to SERVER and wait for the reply, like `jsonrpc-request'.
Return the result, or signal `jsonrpc-error' as it does.  Unlike it, never
leave the connection's process filter non-locally: `jsonrpc-request' throws
out of the filter when the reply comes, and messages that came in the same
chunk after the reply (the task events that the answer to an approval sets
off, say) then wait unread until the server writes again, which for a task
that has finished is never."
  (let (outcome)
    (jsonrpc-async-request
     server method params
     :success-fn (lambda (result) (setq outcome (list 'done result)))
     :error-fn (jsonrpc-lambda (&key code message data)
                 (setq outcome `(error (jsonrpc-error-code . ,code)
                                       (jsonrpc-error-message . ,message)
                                       (jsonrpc-error-data . ,data))))
     :timeout dals-request-timeout
     :timeout-fn (lambda () (setq outcome '(error (jsonrpc-error-message . "Timed out")))))
    (while (not outcome)
      (accept-process-output nil 0.05))
    (if (eq (car outcome) 'error)
        (signal 'jsonrpc-error (cons (format "%s failed:" method) (cdr outcome)))
      (cadr outcome))))

(defun dals--command (server command &optional args)
  "Run COMMAND on SERVER with the one object argument ARGS; return the result.
A JSON-RPC error becomes a `user-error' with the server's message."
  (condition-case err
      (dals--request server :workspace/executeCommand
                     (list :command command
                           :arguments (vector (or args (make-hash-table)))))
    (jsonrpc-error
     (user-error "%s" (or (alist-get 'jsonrpc-error-message (cdr err))
                          (error-message-string err))))))

(defun dals--command-async (server command args then)
  "Run COMMAND on SERVER with ARGS; call THEN with the result, or nil on error."
  (jsonrpc-async-request
   server :workspace/executeCommand
   (list :command command :arguments (vector (or args (make-hash-table))))
   :success-fn then
   :error-fn (lambda (err)
               (message "DALS %s failed: %s" command (plist-get err :message))
               (funcall then nil))
   :timeout dals-request-timeout
   :timeout-fn (lambda ()
                 (message "DALS %s timed out" command)
                 (funcall then nil))))

;;;; Task state, kept current by notifications

(defvar dals-task-event-functions nil
  "Functions called with SERVER and EVENT after each new `dals/taskEvent'.")

(defvar dals-tasks-changed-hook nil
  "Hook run after the task table `dals--tasks' changed.")

(defun dals--tasks-changed ()
  "Tell the task views and the mode line that tasks changed."
  (run-hooks 'dals-tasks-changed-hook)
  (force-mode-line-update t))

(defvar dals--tasks (make-hash-table :test #'equal)
  "Task id -> TaskSummary plist as the server sent it, updated by events.")

(defconst dals--final-statuses '("succeeded" "failed" "cancelled"))

(defconst dals--failing-statuses '("retrying" "paused")
  "Statuses after failed model requests; `dals-resume-task' retries.")

(defun dals--task-apply-event (task event)
  "Return TASK, a summary plist, updated by EVENT the way the server counts."
  (let* ((task (copy-sequence task))
         (usage (copy-sequence (plist-get task :usage)))
         (kind (plist-get event :kind))
         (status (plist-get event :status))
         (detail (plist-get event :detail)))
    (setq task (plist-put task :lastSeq (plist-get event :seq)))
    (setq task (plist-put task :status status))
    (setq task (plist-put task :updatedAt (plist-get event :at)))
    (setq task (plist-put task :lastEvent
                          (list :seq (plist-get event :seq) :kind kind
                                :title (plist-get event :title)
                                :at (plist-get event :at))))
    (when (member kind '("model" "tool" "edit"))
      (setq task (plist-put task :steps (1+ (or (plist-get task :steps) 0)))))
    (when (equal kind "model")
      (setq usage (plist-put usage :requests (1+ (or (plist-get usage :requests) 0)))))
    (when (equal kind "approval")
      ;; A question carries a requestId; its answer carries the decision.
      (setq task (plist-put task :pending
                            (and (plist-get detail :requestId)
                                 (not (plist-get detail :decision))
                                 detail))))
    ;; A failed model request ("Retrying in …: <reason>", "Paused after …"),
    ;; until the model answers or "Resumed".
    (cond ((and (equal kind "status") (member status dals--failing-statuses))
           (setq task (plist-put task :lastFailure (or (plist-get detail :reason)
                                                       (plist-get event :title)))))
          ((member status '("running" "queued"))
           (setq task (plist-put task :lastFailure nil))))
    (plist-put task :usage usage)))

(defun dals--merge-summaries (tasks)
  "Store the summaries TASKS, unless events already brought a newer state."
  (seq-doseq (task tasks)
    (let* ((id (plist-get task :taskId))
           (old (gethash id dals--tasks)))
      (when (or (null old)
                (>= (or (plist-get task :lastSeq) 0) (or (plist-get old :lastSeq) 0)))
        (cl-remf task :events)
        (puthash id task dals--tasks))))
  (dals--tasks-changed))

(defun dals--refresh (server)
  "Fetch the task list from SERVER in the background."
  (dals--command-async server "dals.listTasks" nil
                       (lambda (result)
                         (when result (dals--merge-summaries (plist-get result :tasks))))))

(defun dals--handle-event (server event)
  "Apply EVENT, a `dals/taskEvent' from SERVER, to the task list and buffers.
Events already seen are dropped; after a gap the list is fetched again."
  (let* ((id (plist-get event :taskId))
         (seq (plist-get event :seq))
         (known (gethash id dals--tasks))
         (last (or (plist-get known :lastSeq) 0)))
    (when (> seq last)
      (let ((task (dals--task-apply-event
                   (or known (list :taskId id :title id :status "queued" :steps 0
                                   :usage (list :requests 0)))
                   event)))
        (puthash id task dals--tasks)
        (when (or (not known) (> seq (1+ last))
                  (member (plist-get event :status) dals--final-statuses))
          (dals--refresh server))
        (dals--react server task event)
        (run-hook-with-args 'dals-task-event-functions server event)
        (dals--tasks-changed)))))

(defun dals--react (server task event)
  "Map EVENT of TASK from SERVER to the editor.
Revert the buffers of files edited on disk, announce questions."
  (let ((detail (plist-get event :detail)))
    (pcase (plist-get event :kind)
      ("edit"
       ;; An edit "via" the editor is in the buffer already (applyEdit);
       ;; others went to disk.
       (when (and dals-revert-edited-buffers (plist-get detail :sha)
                  (not (equal (plist-get detail :via) "editor")))
         (dals--revert-file server task (plist-get detail :path))))
      ("approval"
       (when (plist-get task :pending)
         (message "DALS task %s asks: %s  (M-x dals-approve or dals-reject)"
                  (plist-get task :title) (plist-get detail :question)))))))

(defun dals--revert-file (server task path)
  "Revert the buffer visiting PATH in TASK's workspace (SERVER's project).
A buffer with unsaved changes is left alone."
  (let* ((root (or (plist-get task :workspace)
                   (project-root (eglot--project server))))
         (buffer (and path (find-buffer-visiting (expand-file-name path root)))))
    (when buffer
      (with-current-buffer buffer
        (if (buffer-modified-p)
            (message "DALS changed %s on disk; its buffer has unsaved changes" path)
          (revert-buffer t t t))))))

(cl-defmethod eglot-handle-notification
  (server (_method (eql 'dals/taskEvent)) &rest event)
  "Handle `dals/taskEvent' from SERVER: one journaled step of a task, EVENT."
  (dals--handle-event server event))

(defvar dals-task-delta-functions nil
  "Functions called with SERVER and DELTA (plist :taskId :seq :text) for each `dals/taskDelta':
live text of a model response in flight, not journaled (the event that follows is the truth).")

(cl-defmethod eglot-handle-notification
  (server (_method (eql 'dals/taskDelta)) &rest delta)
  "Handle `dals/taskDelta' from SERVER: a piece of live model text, DELTA."
  (run-hook-with-args 'dals-task-delta-functions server delta))

;;;; Mode line, from $/progress

(defvar dals--progress (make-hash-table :test #'equal)
  "Progress token -> connection, for each task that runs now.")

(defvar dals-mode-line '(:eval (dals--mode-line-string))
  "Mode line construct for DALS tasks, in `global-mode-string'.")
(put 'dals-mode-line 'risky-local-variable t)

(declare-function dals-tasks "dals-tasks" ())

(defun dals--mode-line-string ()
  "Return \" DALS[2 running]\", \" DALS[1 waiting, 1 paused]\", or nil."
  (let* ((statuses (cl-loop for task being the hash-values of dals--tasks
                            collect (plist-get task :status)))
         ;; A task's progress ends just after its final event: go by the event.
         (running (cl-loop for token being the hash-keys of dals--progress
                           using (hash-values server)
                           for status = (plist-get (gethash (substring token 10) dals--tasks)
                                                   :status)
                           count (and (jsonrpc-running-p server)
                                      (not (member status (append '("waiting")
                                                                  dals--failing-statuses
                                                                  dals--final-statuses))))))
         (parts (cl-loop for (n . what) in (cons (cons running "running")
                                                 (mapcar (lambda (s) (cons (cl-count s statuses :test #'equal) s))
                                                         (cons "waiting" dals--failing-statuses)))
                         when (> n 0) collect (format "%d %s" n what))))
    (when parts
      (propertize (format " DALS[%s]" (string-join parts ", "))
                  'help-echo "DALS tasks: mouse-1 lists them"
                  'mouse-face 'mode-line-highlight
                  'local-map (make-mode-line-mouse-map 'mouse-1 #'dals-tasks)))))

(defun dals--install-mode-line ()
  "Add `dals-mode-line' to `global-mode-string' once."
  (when (stringp global-mode-string)
    (setq global-mode-string (list "" global-mode-string)))
  (add-to-list 'global-mode-string '("" dals-mode-line) t))

(cl-defmethod eglot-handle-notification
  ((server eglot-dals) (_method (eql '$/progress)) &key token value)
  "Count the tasks that run, from SERVER's `dals-task-*' progress TOKEN and VALUE."
  (when (and (stringp token) (string-prefix-p "dals-task-" token))
    (pcase (plist-get value :kind)
      ("begin" (puthash token server dals--progress))
      ("end" (remhash token dals--progress)))
    (dals--install-mode-line)
    (force-mode-line-update t))
  ;; Newer eglot versions report progress themselves; 1.9 ignores it.
  (cl-call-next-method))

;;;; Commands

(defvar dals--prompt-history nil "Prompts given to `dals-start-task'.")

(defun dals--start-args (prompt &optional mode)
  "The `dals.startTask' argument for PROMPT and MODE from the current buffer.
It names the buffer's file and the active region, if any."
  (append (list :prompt prompt)
          (and buffer-file-name
               (list :uri (eglot--path-to-uri buffer-file-name)))
          (and buffer-file-name (use-region-p)
               (list :range (list :start (eglot--pos-to-lsp-position (region-beginning))
                                  :end (eglot--pos-to-lsp-position (region-end)))))
          (and mode (list :mode mode))))

;;;###autoload
(defun dals-start-task (prompt &optional mode)
  "Start a DALS task with PROMPT on the current file or its active region.
MODE is \"auto\" or \"review\"; with a prefix argument, \"review\", so
that edits and commands wait for `dals-approve'.  nil leaves the mode to
the server.  Return the task id."
  (interactive
   (progn
     (when (and buffer-file-name (buffer-modified-p)
                (y-or-n-p (format "Save %s first (the task reads the file)? "
                                  (buffer-name))))
       (save-buffer))
     (list (read-string (if (use-region-p) "DALS task on region: " "DALS task: ")
                        nil 'dals--prompt-history)
           (and current-prefix-arg "review"))))
  (let ((server (dals--server t)))
    (dals--started server (dals--command server "dals.startTask"
                                         (dals--start-args prompt mode)))))

(defun dals--started (server result)
  "Note the task that SERVER started (RESULT of `dals.startTask'); return its id."
  (let ((id (plist-get result :taskId)))
    (unless (gethash id dals--tasks)
      (puthash id (list :taskId id :title id :status "queued" :steps 0
                        :usage (list :requests 0))
               dals--tasks))
    (dals--refresh server)
    (dals--tasks-changed)
    (message "DALS task %s started (M-x dals-tasks lists tasks)" id)
    id))

(dals--update-server-programs)

(provide 'dals)
;;; dals.el ends here
