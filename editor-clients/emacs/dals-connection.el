;;; dals-connection.el --- The eglot connection to `dals lsp'  -*- lexical-binding: t; -*-

;; This file is not part of GNU Emacs.

;;; Commentary:

;; Part of dals.el (which loads it): the `eglot-dals' connection class,
;; where eglot starts DALS (`eglot-server-programs', `dals-connect'),
;; the settings and capabilities it sends, the requests it answers
;; (`dals/diagnostics' from flymake), and `dals--command', the one way
;; to run a `dals.*' command.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'flymake)
(require 'jsonrpc)
(require 'project)
(require 'seq)

;; Options, defined in dals.el.
(defvar dals-executable)
(defvar dals-model)
(defvar dals-approval)
(defvar dals-commands-allow)
(defvar dals-restate-ingress-url)
(defvar dals-restate-admin-url)
(defvar dals-request-timeout)
(defvar dals-mode-list)

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

(provide 'dals-connection)
;;; dals-connection.el ends here
